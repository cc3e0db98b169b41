export * from './ids';
export * from './errors';
export * from './capacity';
export * from './version';
export * from './ticket';
export * from './access-token';
