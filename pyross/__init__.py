"""pyross: semi-supervised deep generative models (Kingma et al. 2014 and successors) in Pyro.

The layers, from the bottom up:

* :mod:`pyross.data` – datasets as in-memory tensors, label selection, index batching;
* :mod:`pyross.nets` – the small neural building blocks;
* :mod:`pyross.models` – each model as a Pyro ``model``/``guide`` pair with named sites;
* :mod:`pyross.objectives` – the training objectives (e.g. Kingma's :math:`\\mathcal{J}^\\alpha`);
* :mod:`pyross.train` and :mod:`pyross.runs` – the training loop and the run folder;
* :mod:`pyross.fitting` – from a run's options to a trained run folder (per-model defaults,
  M1's and M1+M2's VAE stage);
* :mod:`pyross.estimators`, :mod:`pyross.representations`, :mod:`pyross.params` – scikit-learn
  heads, the representation study, parameter counts;
* :mod:`pyross.predict`, :mod:`pyross.figures`, :mod:`pyross.experiments` – labelling new
  images, pictures of a run, grids of runs;
* :mod:`pyross.cli` – the ``pyross`` command line.
"""

__version__ = "0.1.0"
