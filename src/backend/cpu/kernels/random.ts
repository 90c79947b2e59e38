// CPU kernels: random (being written).
export {};
