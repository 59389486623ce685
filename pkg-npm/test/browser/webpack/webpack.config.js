// webpack 5 build of the browser test app. Nothing Tessera-specific: webpack turns the
// package's `new URL('tessera_wasm_bg.wasm', import.meta.url)` into an asset by itself.
import { fileURLToPath } from 'node:url';

export default {
  mode: 'production',
  context: fileURLToPath(new URL('.', import.meta.url)),
  entry: '../app/main.js',
  output: { path: process.env.TESSERA_WEBPACK_OUT, publicPath: '/webpack/', clean: true },
  performance: { hints: false },
};
