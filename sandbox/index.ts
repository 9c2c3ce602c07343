export { DEFAULT_API_TOKEN, DEFAULT_OAUTH_TOKEN, implementedOperations, type Sandbox, type SandboxOptions, startSandbox, type TokenConfig } from './server';
export { DEAL_FIELD_KEYS, FILTER_IDS, LEAD_LABEL_IDS, PERSON_FIELD_KEYS, SEED_COMPANY, SEED_EPOCH, SEED_USER_ID, type SeedOptions } from './seed';
export type { FaultConfig, FaultKind, RateLimitConfig } from './limits';
export type { Delivery } from './webhooks';
export { DROPPED_BANNED, DROPPED_DELETED_3_DAYS } from './webhooks';
export { ordinaryDay, type OrdinaryDayOptions, type OrdinaryDaySummary, type TrafficTarget } from './traffic';
export type { SandboxCatalog } from './admin';
export type { CustomFieldFormat } from './serialize';
export type { RequestLogEntry, Violation } from './state';
