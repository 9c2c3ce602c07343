// Public surface of the Pipedrive client (no n8n imports anywhere under lib/).
export * from './request';
export * from './errors';
export * from './pacing';
export * from './pagination';
export * from './types';
export * from './fields';
export * from './webhooks';
export * from './client';
