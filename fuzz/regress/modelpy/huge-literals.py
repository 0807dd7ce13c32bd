x = 0xffffffffffffffffffffffffffffffff
y = 1e999
