/** Compatibility layers for code written against other libraries' APIs. */
export * from './watchdog/index.js';
