// The ES module entry: the same single instance of every class as require() gets.
export * from './index.js';
