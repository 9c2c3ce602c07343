export * from './contacts';
export * from './mapping';
export * from './metrics';
export * from './send';
