// CPU kernels: scan (being written).
export {};
