import * as path from 'node:path';
import type { NativeBinding } from './native.js';

type Loader = (root: string) => unknown;

// node-gyp-build picks prebuilds/<platform>-<arch>/ when one matches, else build/Release.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- node-gyp-build is CommonJS with no types; this is the one cast
const load = require('node-gyp-build') as Loader;

/** The compiled addon. The one cast from the loader's untyped result. @internal */
export const binding = load(path.join(__dirname, '..')) as NativeBinding;
