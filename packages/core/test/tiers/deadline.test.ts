import { connect, createServer, type Server, type Socket } from 'node:net'
import { DeadlineError, withDeadline } from '../../src/tiers/deadline'
import { sleep } from '../support'

/** Blocks the event loop (a long synchronous task, a GC pause) for `ms`. */
function busyWait(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // spin
  }
}

/** A promise settled by hand, to count and order what happens. */
function later<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: Error) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('withDeadline', () => {
  test('a reply within the deadline wins', async () => {
    await expect(
      withDeadline(
        'read',
        1000,
        sleep(5).then(() => 'ok'),
      ),
    ).resolves.toBe('ok')
  })

  test("an error within the deadline is the operation's own", async () => {
    const err = new Error('refused')
    await expect(withDeadline('read', 1000, Promise.reject(err))).rejects.toBe(err)
  })

  test('a reply later than the deadline loses: DeadlineError naming the operation and the ms', async () => {
    const late = later<string>()
    const started = Date.now()
    const result = withDeadline('write', 20, late.promise)
    const err = await result.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(Date.now() - started).toBeGreaterThanOrEqual(15)
    expect(err).toBeInstanceOf(DeadlineError)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).name).toBe('DeadlineError')
    expect((err as Error).message).toBe('write took longer than 20 ms')
    late.resolve('too late')
    await sleep(5)
  })

  test('a rejection after the deadline is swallowed (no unhandled rejection)', async () => {
    // Jest fails the test in which an unhandled rejection happens: the late
    // rejection below happens inside this test.
    const late = later<string>()
    await expect(withDeadline('invalidate', 10, late.promise)).rejects.toBeInstanceOf(DeadlineError)
    late.reject(new Error('late failure, after the deadline'))
    await sleep(20)
  })

  test('a reply that is ready when a stalled event loop resumes still wins (timer reply)', async () => {
    // The deadline's timer and the reply's are both due when the loop resumes;
    // the reply's comes second but the rejection waits for setImmediate.
    const reply = later<string>()
    setTimeout(() => reply.resolve('reply'), 30)
    const result = withDeadline('read', 20, reply.promise)
    busyWait(150)
    await expect(result).resolves.toBe('reply')
  })

  describe('a reply already in the socket buffer when a stalled loop resumes', () => {
    let server: Server
    let client: Socket
    let peer: Socket

    beforeEach(async () => {
      const accepted = later<Socket>()
      server = createServer((s) => accepted.resolve(s))
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const { port } = server.address() as { port: number }
      client = connect(port, '127.0.0.1')
      await new Promise<void>((resolve) => client.once('connect', () => resolve()))
      peer = await accepted.promise
    })

    afterEach(async () => {
      client.destroy()
      peer.destroy()
      await new Promise((resolve) => server.close(resolve))
    })

    test('wins over the deadline that fired during the stall', async () => {
      const reply = new Promise<string>((resolve) =>
        client.once('data', (d: Buffer) => resolve(d.toString())),
      )
      const result = withDeadline('read', 20, reply)
      peer.write('pong') // in the client's receive buffer from now on
      busyWait(150)
      await expect(result).resolves.toBe('pong')
    })

    test('without a stall, a reply sent after the deadline still loses', async () => {
      const reply = new Promise<string>((resolve) =>
        client.once('data', (d: Buffer) => resolve(d.toString())),
      )
      const result = withDeadline('read', 20, reply)
      setTimeout(() => peer.write('pong'), 80)
      await expect(result).rejects.toBeInstanceOf(DeadlineError)
      await reply
    })
  })
})
