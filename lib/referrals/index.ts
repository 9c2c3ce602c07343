export * from './codes';
export * from './email';
export * from './errors';
export * from './links';
export * from './model';
export * from './program';
export * from './validation';
