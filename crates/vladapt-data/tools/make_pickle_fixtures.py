"""Generate tiny pickled NumPy arrays (as in the animal-mnist wheel) for the Rust pickle reader tests.

Run: python3 -m venv /work/venv-data && /work/venv-data/bin/pip install numpy
     /work/venv-data/bin/python crates/vladapt-data/tools/make_pickle_fixtures.py
Values (checked by tests/pickle.rs from the same formulas):
  images_u1.pkl.gz : uint8 (3, 4, 5), element [i, r, c] = (i*20 + r*5 + c) * 7 % 256, protocol 4, gzip'd
  labels_i8.pkl    : int64 (5,) = [0, 9, -3, 1234567890123, 4], protocol 4
  labels_i8_p2.pkl : the same labels, protocol 2 (bytes via _codecs.encode)
"""
import gzip
import os
import pickle

import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
os.makedirs(out, exist_ok=True)
i, r, c = np.meshgrid(np.arange(3), np.arange(4), np.arange(5), indexing="ij")
images = ((i * 20 + r * 5 + c) * 7 % 256).astype(np.uint8)
labels = np.array([0, 9, -3, 1234567890123, 4], dtype=np.int64)
with gzip.open(os.path.join(out, "images_u1.pkl.gz"), "wb") as f:
    pickle.dump(images, f, protocol=4)
with open(os.path.join(out, "labels_i8.pkl"), "wb") as f:
    pickle.dump(labels, f, protocol=4)
with open(os.path.join(out, "labels_i8_p2.pkl"), "wb") as f:
    pickle.dump(labels, f, protocol=2)
