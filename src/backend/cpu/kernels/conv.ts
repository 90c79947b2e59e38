// CPU kernels: conv (being written).
export {};
