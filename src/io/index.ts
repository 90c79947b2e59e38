// lathe/io (being written).
export {};
