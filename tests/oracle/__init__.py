"""The reference oracle: the bank's criteria written plainly in Python, from the docs,
without the compiler, and the random banks it is compared on."""
