import { CachetInvalidationError } from '../../src/errors'
import {
  type NormalizedTarget,
  normalizeTarget,
  tenantTag,
  userTag,
} from '../../src/invalidation/target'
import { thrown } from '../support'

const badTargets: [string, unknown, string, RegExp][] = [
  // name, input, field named, problem
  [
    'empty object',
    {},
    'target',
    /nothing to invalidate: give at least one of tags, pattern, user or tenant/,
  ],
  [
    'null',
    null,
    'target',
    /expected an object \{ tags\?, pattern\?, user\?, tenant\? \}, got null/,
  ],
  ['a string', 'products', 'target', /expected an object .*, got "products"/],
  ['an array', ['products'], 'target', /got an array of 1/],
  [
    'unknown field',
    { foo: 1 },
    'foo',
    /unknown field \(expected tags, pattern, user, tenant or mode\)/,
  ],
  ['an empty tenant', { tenant: '' }, 'tenant', /expected a non-empty string, got ""/],
  ['a tenant not a string', { tenant: 7 }, 'tenant', /expected a non-empty string, got 7/],
  ['a misspelt field beside good ones', { tags: ['a'], patern: '/a' }, 'patern', /unknown field/],
  ['tags not an array', { tags: 'x' }, 'tags', /expected an array of strings, got "x"/],
  ['an empty tag', { tags: [''] }, 'tags', /expected non-empty strings, got ""/],
  ['a non-string tag', { tags: ['a', 3] }, 'tags', /expected non-empty strings, got 3/],
  [
    'a reserved tag',
    { tags: ['#route:x'] },
    'tags',
    /tags starting with "#" are reserved, got "#route:x"/,
  ],
  ['no tags at all', { tags: [] }, 'target', /nothing to invalidate/],
  [
    'pattern not starting with /',
    { pattern: 'x' },
    'pattern',
    /expected a path pattern starting with "\/", got "x"/,
  ],
  ['pattern not a string', { pattern: 5 }, 'pattern', /starting with "\/", got 5/],
  [
    'pattern that does not compile',
    { pattern: '/a/:' },
    'pattern',
    /invalid path pattern "\/a\/:"/,
  ],
  ['empty user', { user: '' }, 'user', /expected a non-empty string, got ""/],
  ['user not a string', { user: 42 }, 'user', /expected a non-empty string, got 42/],
]

describe('normalizeTarget rejects', () => {
  test.each(badTargets)('%s', (_, input, field, problem) => {
    const err = thrown(() => normalizeTarget(input))
    expect(err).toBeInstanceOf(CachetInvalidationError)
    expect(err.code).toBe('CACHET_INVALID_INVALIDATION')
    expect(err.message.startsWith(`invalidate(): "${field}": `)).toBe(true)
    expect((err as CachetInvalidationError).field).toBe(field)
    expect(err.message).toMatch(problem)
  })
})

const goodTargets: [string, unknown, NormalizedTarget][] = [
  ['tags', { tags: ['a', 'b'] }, { tags: ['a', 'b'], patterns: [], users: [], tenants: [] }],
  [
    'pattern',
    { pattern: '/products/*rest' },
    { tags: [], patterns: ['/products/*rest'], users: [], tenants: [] },
  ],
  [
    'bare * pattern',
    { pattern: '/products/*' },
    { tags: [], patterns: ['/products/*'], users: [], tenants: [] },
  ],
  ['user', { user: 'alice' }, { tags: [], patterns: [], users: ['alice'], tenants: [] }],
  [
    'all three',
    { tags: ['a'], pattern: '/a', user: 'u' },
    { tags: ['a'], patterns: ['/a'], users: ['u'], tenants: [] },
  ],
  ['tenant', { tenant: 'acme' }, { tags: [], patterns: [], users: [], tenants: ['acme'] }],
  [
    'undefined fields are absent',
    { tags: ['a'], pattern: undefined },
    { tags: ['a'], patterns: [], users: [], tenants: [] },
  ],
]

describe('normalizeTarget accepts', () => {
  test.each(goodTargets)('%s', (_, input, expected) => {
    expect(normalizeTarget(input)).toEqual(expected)
  })

  test('the user and tenant tags are reserved (start with #)', () => {
    expect(userTag('alice')).toBe('#user:alice')
    expect(tenantTag('acme')).toBe('#tenant:acme')
  })
})
