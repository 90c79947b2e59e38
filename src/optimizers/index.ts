// lathe/optimizers: mlx.optimizers in camelCase.
import '../backends.js'; // every entry point can evaluate on its own
export { Optimizer, computeDtype } from './optimizer.js';
export type { Schedule, LearningRate, ParamTree, ParamState, OptimizerState, Updatable } from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { RMSprop, Adagrad, AdaDelta, type RMSpropOptions, type AdagradOptions, type AdaDeltaOptions } from './adaptive.js';
export { Adam, AdamW, Adamax, type AdamOptions, type AdamWOptions, type AdamaxOptions } from './adam.js';
export { Lion, type LionOptions } from './lion.js';
export { Adafactor, type AdafactorOptions } from './adafactor.js';
export { Muon, newtonSchulz5, type MuonOptions } from './muon.js';
export { MultiOptimizer, type ParameterFilter } from './multi.js';
export { exponentialDecay, stepDecay, cosineDecay, linearSchedule, joinSchedules, type BuiltSchedule } from './schedulers.js';
export { clipGradNorm } from './clip.js';
export { flattenState, unflattenState, saveOptimizerState, loadOptimizerState } from './state-io.js';
