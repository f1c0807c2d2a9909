"""Where make install put libh5mr (None: the build tree, or the loader's path)."""
libdir = None
bindir = None
