// Linear algebra. Products are top level (mx.matmul, mx.einsum, ...); factorizations and
// solvers live in the `linalg` namespace as in MLX (mx.linalg.inv, ...), norm in both.
import { norm } from './norm.js';
import { inv, solve, solveTriangular, triInv, cholesky, choleskyInv, qr, svd, pinv, eigh, eigvalsh } from './factorizations.js';

export { matmul, addmm, outer, inner, tensordot } from './matmul.js';
export { einsum } from './einsum.js';
export { norm };

/** `mx.linalg`: CPU factorizations and solvers (float32 and float64, batched over leading dims). */
export const linalg = { norm, inv, solve, solveTriangular, triInv, cholesky, choleskyInv, qr, svd, pinv, eigh, eigvalsh };
