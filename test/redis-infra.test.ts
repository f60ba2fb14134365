import fs from 'node:fs'
import { type RedisProcess, startRedis } from './support/redis/redis-server'
import { ping, RespError, redisCommand } from './support/redis/resp'
import { REDIS_PID_ENV, sharedRedisUrl } from './support/redis/shared'

// The test infrastructure itself: the shared server of globalSetup, and private
// servers that are stopped, restarted and paused by pid.

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const started: RedisProcess[] = []
async function privateRedis(): Promise<RedisProcess> {
  const redis = await startRedis()
  started.push(redis)
  return redis
}

afterAll(async () => {
  await Promise.all(started.map((r) => r.stop()))
})

test('the shared server answers PING', async () => {
  const url = sharedRedisUrl()
  expect(url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/)
  expect(await redisCommand(url, ['PING'])).toBe('PONG')
  const pid = process.env[REDIS_PID_ENV]
  if (pid) expect(alive(Number(pid))).toBe(true)
})

test('the RESP client reads integers, bulk strings, nulls, arrays and errors', async () => {
  const redis = await privateRedis()
  expect(await redisCommand(redis.url, ['SET', 'k', 'héllo\r\nworld'])).toBe('OK')
  expect(await redisCommand(redis.url, ['GET', 'k'])).toBe('héllo\r\nworld')
  expect(await redisCommand(redis.url, ['GET', 'missing'])).toBeNull()
  expect(await redisCommand(redis.url, ['INCR', 'n'])).toBe(1)
  expect(await redisCommand(redis.url, ['RPUSH', 'l', 'a', 'b'])).toBe(2)
  expect(await redisCommand(redis.url, ['LRANGE', 'l', 0, -1])).toEqual(['a', 'b'])
  await expect(redisCommand(redis.url, ['NOPE'])).rejects.toBeInstanceOf(RespError)
  expect(await redisCommand(redis.url, ['CONFIG', 'GET', 'bind'])).toEqual(['bind', '127.0.0.1'])
  expect(await redisCommand(redis.url, ['CONFIG', 'GET', 'save'])).toEqual(['save', ''])
})

test('stop() ends the process, by pid, and removes its dir', async () => {
  const redis = await startRedis()
  const { pid, dir } = redis
  expect(alive(pid)).toBe(true)
  await redis.stop()
  expect(() => process.kill(pid, 0)).toThrow()
  expect(fs.existsSync(dir)).toBe(false)
  expect(await ping(redis.port, 200)).toBe(false)
  await redis.stop() // idempotent
})

test('restart() keeps the port and loses the data', async () => {
  const redis = await privateRedis()
  const { port, pid } = redis
  await redisCommand(redis.url, ['SET', 'k', 'v'])
  await redisCommand(redis.url, ['DEBUG', 'SLEEP', 0]) // the debug command is enabled
  await redis.restart()
  expect(redis.port).toBe(port)
  expect(redis.pid).not.toBe(pid)
  expect(() => process.kill(pid, 0)).toThrow()
  expect(await redisCommand(redis.url, ['GET', 'k'])).toBeNull()
})

test('pause() makes PING time out and resume() brings it back', async () => {
  const redis = await privateRedis()
  redis.pause()
  await expect(redisCommand(redis.url, ['PING'], { timeoutMs: 200 })).rejects.toThrow(/timed out/)
  redis.resume()
  expect(await redisCommand(redis.url, ['PING'], { timeoutMs: 1000 })).toBe('PONG')
})

test('stop() works on a paused server', async () => {
  const redis = await startRedis()
  redis.pause()
  await redis.stop()
  expect(() => process.kill(redis.pid, 0)).toThrow()
})
