import { readFileSync } from 'node:fs'
import path from 'node:path'
import ts from 'typescript'

// Every `ts` block of docs/typescript.md compiles against the built packages
// (npm test builds before Jest runs), each block as its own program, so that
// its declaration merging applies to it alone. A `// @ts-expect-error` line
// whose error is gone is a diagnostic (TS2578): the page's typo examples stay
// type errors.

const root = path.resolve(__dirname, '..')
const page = path.join(root, 'docs/typescript.md')

function blocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string)
}

const base = ts.readConfigFile(path.join(root, 'tsconfig.base.json'), ts.sys.readFile)
const { options } = ts.convertCompilerOptionsFromJson(
  {
    ...base.config.compilerOptions,
    noEmit: true,
    composite: false,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
  },
  root,
)

function diagnostics(source: string, index: number): string[] {
  const file = path.join(root, 'docs', `typescript.block-${index}.ts`)
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, language, ...rest) =>
    path.resolve(name) === file
      ? ts.createSourceFile(name, source, language, true)
      : getSourceFile(name, language, ...rest)
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (name) => path.resolve(name) === file || fileExists(name)
  const program = ts.createProgram([file], options, host)
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where =
      d.file && d.start !== undefined
        ? `${path.relative(root, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: `
        : ''
    return `${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
  })
}

const sources = blocks(readFileSync(page, 'utf8'))

describe('docs/typescript.md', () => {
  test('has its code blocks', () => {
    expect(sources.length).toBeGreaterThanOrEqual(5)
    expect(sources.join('\n')).toMatch(/@ts-expect-error/)
  })

  test.each(sources.map((s, i) => [i, s] as const))('block %i compiles', (i, source) => {
    expect(diagnostics(source, i)).toEqual([])
  })
})
