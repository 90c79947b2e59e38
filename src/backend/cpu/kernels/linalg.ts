// CPU kernels: linalg (being written).
export {};
