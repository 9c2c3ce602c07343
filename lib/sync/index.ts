export * from './contacts';
export * from './mapping';
export * from './metrics';
export * from './send';
export * from './send-queue';
export * from './reconcile';
export * from './webhook-health';
