// CPU kernels: creation (being written).
export {};
