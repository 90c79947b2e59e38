// CPU kernels: sort (being written).
export {};
