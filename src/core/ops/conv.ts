// conv ops (being written).
export {};
