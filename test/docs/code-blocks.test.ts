/**
 * A code block in the docs is type-checked here, so it cannot rot.
 *
 * What is checked: every fenced block of README.md, docs/**\/*.md and
 * packages/*\/README.md whose fence says ```ts or ```typescript (as
 * TypeScript) or ```js or ```javascript (as JavaScript, with checkJs). Other
 * fences (shell, console, yaml, text, none) are not checked. Each block is
 * written as its own ES module (top-level await allowed) under
 * test/docs/.blocks/ (git-ignored, removed after the run), and all of them are
 * type-checked in one TypeScript program: strict, ES2022, module esnext, with
 * `@cachet/*` mapped to packages/*\/src as in jest.config.ts. A failure reads
 * `README.md:123 (block 7): TS2353 <message>`, with the line in the markdown.
 *
 * Conventions for blocks:
 * - Placeholders. A block may use, without declaring them, the names that
 *   stand for "your own code": app, cache, router, authenticate (Express
 *   types, or Koa types when the block imports koa, @koa/* or @cachet/koa),
 *   rules, store, url, myTier, DEPLOY_TOKEN, ONCALL_TOKEN. They are declared
 *   in test/docs/prelude.d.ts; keep that list short.
 * - Rule fragments. A block that is an object literal (its first code line
 *   starts with `{`) is checked as one or more cache rules (`CacheRule`), so
 *   `{ path: '/a/:id', ttl: 5 }` or several such objects separated by commas.
 * - Opt-out. ```ts no-check skips a block that is deliberately not valid code
 *   (output, pseudo-code). Use it sparingly: the test fails when more than 10%
 *   of the blocks opt out.
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'

const root = join(__dirname, '..', '..')
const blocksDir = join(__dirname, '.blocks')
const runDir = join(blocksDir, `run-${process.pid}-${Date.now().toString(36)}`)
const prelude = join(__dirname, 'prelude.d.ts')
const MAX_OPT_OUT_SHARE = 0.1

interface Block {
  /** The markdown file, relative to the repository root. */
  doc: string
  /** 1-based, among the checked (ts/js) blocks of `doc`. */
  index: number
  /** Markdown line (1-based) of the block's first code line. */
  line: number
  js: boolean
  noCheck: boolean
  code: string
}

const TS_LANGS = new Set(['ts', 'typescript'])
const JS_LANGS = new Set(['js', 'javascript'])

/** The ts/js fenced blocks of one markdown text. */
function extractBlocks(doc: string, markdown: string): Block[] {
  const lines = markdown.split(/\r?\n/)
  const blocks: Block[] = []
  let index = 0
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})\s*([^`]*)$/.exec(lines[i]!)
    if (!open) continue
    const [, indent = '', fence = '', info = ''] = open
    const closing = new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`)
    const start = i + 1
    let end = start
    while (end < lines.length && !closing.test(lines[end]!)) end++
    const [lang = '', ...flags] = info.trim().toLowerCase().split(/\s+/)
    if (TS_LANGS.has(lang) || JS_LANGS.has(lang)) {
      const body = lines
        .slice(start, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
      blocks.push({
        doc,
        index: ++index,
        line: start + 1,
        js: JS_LANGS.has(lang),
        noCheck: flags.includes('no-check'),
        code: body.join('\n'),
      })
    }
    i = end
  }
  return blocks
}

/** README.md, docs/**\/*.md and packages/*\/README.md, relative to the root. */
function docFiles(): string[] {
  const files = ['README.md']
  try {
    const docs = readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    files.push(...docs.filter((f) => f.endsWith('.md')).map((f) => join('docs', f)))
  } catch {}
  for (const pkg of readdirSync(join(root, 'packages'))) {
    try {
      readFileSync(join(root, 'packages', pkg, 'README.md'))
      files.push(join('packages', pkg, 'README.md'))
    } catch {}
  }
  return files.sort()
}

function declaredNames(source: ts.SourceFile): Set<string> {
  const names = new Set<string>()
  const bind = (name: ts.BindingName): void => {
    if (ts.isIdentifier(name)) names.add(name.text)
    else for (const el of name.elements) if (!ts.isOmittedExpression(el)) bind(el.name)
  }
  for (const st of source.statements) {
    if (ts.isImportDeclaration(st) && st.importClause) {
      const { name, namedBindings } = st.importClause
      if (name) names.add(name.text)
      if (namedBindings && ts.isNamespaceImport(namedBindings)) names.add(namedBindings.name.text)
      if (namedBindings && ts.isNamedImports(namedBindings)) {
        for (const el of namedBindings.elements) names.add(el.name.text)
      }
    } else if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) bind(d.name)
    } else if (
      (ts.isFunctionDeclaration(st) ||
        ts.isClassDeclaration(st) ||
        ts.isEnumDeclaration(st) ||
        ts.isInterfaceDeclaration(st) ||
        ts.isTypeAliasDeclaration(st) ||
        ts.isImportEqualsDeclaration(st)) &&
      st.name
    ) {
      names.add(st.name.text)
    }
  }
  return names
}

const PLACEHOLDERS = [
  'app',
  'cache',
  'router',
  'authenticate',
  'rules',
  'store',
  'url',
  'myTier',
  'DEPLOY_TOKEN',
  'ONCALL_TOKEN',
]
const KOA_IMPORT = /\bfrom\s+['"](koa|@koa\/[^'"]+|@cachet\/koa)['"]/

/**
 * The module text of a block. Whatever is added keeps the block's lines where
 * they are: a rule fragment's wrapper goes at the start of the first line, the
 * placeholder import after the last one.
 */
function moduleText(block: Block): string {
  let text = block.code
  const firstCode = text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('//'))
  if (firstCode?.trim().startsWith('{')) {
    text = block.js
      ? `/** @type {import('@cachet/core').CacheRule[]} */ export const docRules = [${text}\n]`
      : `export const docRules: import('@cachet/core').CacheRule[] = [${text}\n]`
  }
  const file = ts.createSourceFile('block.ts', text, ts.ScriptTarget.ES2022, false)
  const declared = declaredNames(file)
  const missing = PLACEHOLDERS.filter((name) => !declared.has(name))
  const from = KOA_IMPORT.test(text) ? 'cachet-docs/koa' : 'cachet-docs/express'
  return `${text}\nimport { ${missing.join(', ')} } from '${from}'\nexport {}\n`
}

const pkgSrc = (pkg: string) => join(root, 'packages', pkg, 'src')
const compilerOptions: ts.CompilerOptions = {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2022.d.ts'],
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  types: ['node'],
  typeRoots: [join(root, 'node_modules', '@types')],
  esModuleInterop: true,
  allowJs: true,
  checkJs: true,
  skipLibCheck: true,
  noEmit: true,
  paths: {
    '@cachet/core': [join(pkgSrc('core'), 'index.ts')],
    '@cachet/core/*': [join(pkgSrc('core'), '*', 'index.ts')],
    '@cachet/express': [join(pkgSrc('express'), 'index.ts')],
    '@cachet/koa': [join(pkgSrc('koa'), 'index.ts')],
    '@cachet/fastify': [join(pkgSrc('fastify'), 'index.ts')],
    '@cachet/cli': [join(pkgSrc('cli'), 'index.ts')],
  },
}

/**
 * Type-checks the blocks in one program; returns one line per diagnostic,
 * `<doc>:<line> (block <n>): TS<code> <message>`.
 */
function checkBlocks(blocks: readonly Block[]): string[] {
  mkdirSync(runDir, { recursive: true })
  const byFile = new Map<string, Block>()
  for (const block of blocks) {
    if (block.noCheck) continue
    const name = `${block.doc.replace(/\.md$/, '').replace(/[^\w-]+/g, '_')}-${block.index}`
    const file = join(runDir, `${name}.${block.js ? 'js' : 'ts'}`)
    writeFileSync(file, moduleText(block))
    byFile.set(file, block)
  }
  // The prelude goes in as a .ts copy: as a .d.ts, skipLibCheck would let a
  // placeholder whose type does not resolve quietly become `any`.
  const preludeCopy = join(runDir, 'prelude.ts')
  writeFileSync(preludeCopy, readFileSync(prelude, 'utf8'))
  const program = ts.createProgram([preludeCopy, ...byFile.keys()], compilerOptions)
  const failures = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map(
    (d) => `(program): TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
  )
  const preludeSource = program.getSourceFile(preludeCopy)!
  for (const d of program.getSemanticDiagnostics(preludeSource)) {
    const line = preludeSource.getLineAndCharacterOfPosition(d.start ?? 0).line + 1
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ')
    failures.push(`test/docs/prelude.d.ts:${line}: TS${d.code} ${message}`)
  }
  for (const [file, block] of byFile) {
    const source = program.getSourceFile(file)
    if (!source) {
      failures.push(`${block.doc}:${block.line} (block ${block.index}): not in the program`)
      continue
    }
    const lastLine = block.code.split('\n').length - 1
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ]
    for (const d of diagnostics) {
      const at = source.getLineAndCharacterOfPosition(d.start ?? 0).line
      const line = block.line + Math.min(at, lastLine)
      const message = ts.flattenDiagnosticMessageText(d.messageText, ' ')
      failures.push(`${block.doc}:${line} (block ${block.index}): TS${d.code} ${message}`)
    }
  }
  return failures
}

// Deliberately broken blocks, run through the same pipeline as the docs: if
// these stop failing, the check has stopped checking.
const SELF_CHECK_DOC = 'self-check.md'
const SELF_CHECK = [
  '# Self-check', // 1
  '', // 2
  '```ts', // 3
  "import { cacheMiddleware } from '@cachet/express'", // 4
  '', // 5
  "app.use(cacheMiddleware([{ path: '/x', tll: 5 }]))", // 6: typo, and a placeholder
  '```', // 7
  '', // 8
  '```ts', // 9
  "{ path: '/y', ttl: 5, tagz: ['y'] }", // 10: a rule fragment with a typo
  '```', // 11
  '', // 12
  '```ts no-check', // 13
  'this is not code', // 14
  '```', // 15
  '', // 16
  '```js', // 17
  "import { cacheMiddleware } from '@cachet/koa'", // 18
  "app.use(cacheMiddleware([{ path: 42, ttl: '1m' }]))", // 19: JS, wrong type, Koa app
  '```', // 20
  '', // 21
  '```console', // 22
  '$ not checked', // 23
  '```', // 24
  '', // 25
  '```ts', // 26
  "import Fastify from 'fastify'", // 27
  "import { cachePlugin } from '@cachet/fastify'", // 28
  '', // 29
  'const app = Fastify()', // 30
  "await app.register(cachePlugin, { rules: [{ path: '/z', ttl: 5, tagz: ['z'] }] })", // 31: typo
  "app.get('/z', async (request) => request.cache.invalidate({ tag: ['z'] }))", // 32: typo
  '```', // 33
].join('\n')

describe('docs code blocks', () => {
  const docs = docFiles()
  const blocks = docs.flatMap((doc) => extractBlocks(doc, readFileSync(join(root, doc), 'utf8')))
  const selfCheck = extractBlocks(SELF_CHECK_DOC, SELF_CHECK)
  let failures: string[] = []

  beforeAll(() => {
    failures = checkBlocks([...blocks, ...selfCheck])
  }, 120_000)

  afterAll(() => {
    rmSync(runDir, { recursive: true, force: true })
    try {
      rmdirSync(blocksDir) // unless another run is using it
    } catch {}
  })

  it('finds the blocks of README.md and docs/', () => {
    expect(docs).toContain('README.md')
    // The README is a front page with a few examples; the reference is in docs/.
    expect(blocks.filter((b) => b.doc === 'README.md').length).toBeGreaterThanOrEqual(3)
    expect(blocks.filter((b) => b.doc.startsWith('docs')).length).toBeGreaterThanOrEqual(10)
  })

  it('resolves @cachet/* to the sources, and the frameworks from node_modules', () => {
    const from = join(runDir, 'resolve.ts')
    const resolved = (name: string) =>
      ts.resolveModuleName(name, from, compilerOptions, ts.sys).resolvedModule?.resolvedFileName
    for (const pkg of ['core', 'express', 'koa', 'fastify', 'cli']) {
      expect([pkg, resolved(`@cachet/${pkg}`)]).toEqual([pkg, join(pkgSrc(pkg), 'index.ts')])
    }
    expect(resolved('@cachet/core/redis')).toBe(join(pkgSrc('core'), 'redis', 'index.ts'))
    const types = (...path: string[]) => join(root, 'node_modules', ...path)
    expect([resolved('express'), resolved('koa'), resolved('fastify')]).toEqual([
      types('@types', 'express', 'index.d.ts'),
      types('@types', 'koa', 'index.d.ts'),
      types('fastify', 'fastify.d.ts'),
    ])
  })

  it('type-checks every ts/js block', () => {
    expect(failures.filter((f) => !f.startsWith(SELF_CHECK_DOC))).toEqual([])
  })

  it(`lets at most ${MAX_OPT_OUT_SHARE * 100}% of the blocks opt out with no-check`, () => {
    const optedOut = blocks.filter((b) => b.noCheck).map((b) => `${b.doc}:${b.line}`)
    expect(optedOut.length).toBeLessThanOrEqual(Math.floor(blocks.length * MAX_OPT_OUT_SHARE))
  })

  it('reports a broken block at its markdown line (self-check)', () => {
    expect(selfCheck.map((b) => [b.index, b.line, b.js, b.noCheck])).toEqual([
      [1, 4, false, false],
      [2, 10, false, false],
      [3, 14, false, true],
      [4, 18, true, false],
      [5, 27, false, false],
    ])
    const own = failures.filter((f) => f.startsWith(SELF_CHECK_DOC))
    expect(own).toEqual([
      expect.stringMatching(/^self-check\.md:6 \(block 1\): TS2353 .*'tll' does not exist/),
      expect.stringMatching(/^self-check\.md:10 \(block 2\): TS2353 .*'tagz' does not exist/),
      expect.stringMatching(/^self-check\.md:19 \(block 4\): TS2322 .*'number' is not assignable/),
      // Fastify's register() has overloads, hence TS2769; request.cache is typed by the plugin.
      expect.stringMatching(/^self-check\.md:31 \(block 5\): TS2769 .*'tagz' does not exist/),
      expect.stringMatching(/^self-check\.md:32 \(block 5\): TS2561 .*'tag' does not exist/),
    ])
  })
})
