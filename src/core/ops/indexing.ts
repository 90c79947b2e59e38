// indexing ops (being written).
export {};
