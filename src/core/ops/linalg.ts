// linalg ops (being written).
export {};
