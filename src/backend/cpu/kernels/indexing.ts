// CPU kernels: indexing (being written).
export {};
