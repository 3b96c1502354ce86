export * from './services.js';
export * from './db.js';
