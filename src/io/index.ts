// lathe/io: arrays in and out of files. safetensors, GGUF, npy and npz, read lazily.
import '../backends.js'; // every entry point can evaluate on its own
export { load, save, type FileFormat, type LoadOptions, type Metadata } from './load.js';
export { loadSafetensors, saveSafetensors, type SafetensorsFile, type TensorInfo } from './safetensors.js';
export { loadSafetensorsDir } from './sharded.js';
export { loadGguf, saveGguf, type GgufFile, type GgufTensorInfo, type GgufValue, type GgufValueType } from './gguf.js';
export { loadNpy, saveNpy } from './npy.js';
export { loadNpz, savez, savezCompressed, type NpzArrays } from './npz.js';
