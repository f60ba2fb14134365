// @cachet/core/admin: the framework-free admin API (stats, invalidate,
// explain, health, the dashboard page) that the adapters mount.

export { AdminBodyError, MAX_ADMIN_BODY_BYTES, readJsonBody } from './body'
export { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard'
export type { AdminHealth, AdminStats } from './endpoints'
export type {
  AdminHandler,
  AdminOptions,
  AdminRequest,
  AdminResponse,
  AdminSource,
} from './handler'
export { createAdmin } from './handler'
export type { AdminTokens } from './tokens'
export { AdminTokenChecker, DEFAULT_TOKEN_NAME, MIN_TOKEN_LENGTH } from './tokens'
