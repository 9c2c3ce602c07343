export * from './html';
export * from './links';
export * from './pages';
export * from './qr';
export * from './share';
export * from './stats';
export * from './tokens';
