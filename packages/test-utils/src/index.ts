export * from './services.js';
export * from './db.js';
export * from './contract.js';
export * from './clients.js';
export * from './until.js';
export * from './processes.js';
export * from './clock.js';
