"""The contract of a data set (:func:`assert_is_dataset`)."""
import numpy


def assert_is_dataset(spec, data_root):
    """A registered data set, loaded from ``data_root``, has its declared
    image shape, float32 images in [0, 1] (or, whitened, finite), int32
    labels covering every one of its classes in both splits, and as many
    class names as classes.

    Args:
        spec (DatasetSpec): the data set's registry entry (its
            ``whitened`` says whether its images are whitened: any finite
            values).
        data_root (str): where its files are.
    """
    assert len(spec.shape) == 3 and spec.n_classes >= 2 and spec.n_train > 0
    x_train, y_train, x_test, y_test = spec.load(data_root)
    assert len(x_train) == spec.n_train, (len(x_train), spec.n_train)
    classes = numpy.arange(spec.n_classes)
    for split, x, y in (('train', x_train, y_train),
                        ('test', x_test, y_test)):
        assert len(x), '%s split is empty' % split
        assert x.dtype == numpy.float32, (split, x.dtype)
        assert x.shape[1:] == spec.shape, (split, x.shape)
        assert numpy.isfinite(x).all(), split
        if not spec.whitened:
            assert x.min() >= 0 and x.max() <= 1, (
                '%s images outside [0, 1]: %g..%g' % (split, x.min(),
                                                      x.max()))
        assert y.dtype == numpy.int32 and y.ndim == 1, (split, y.dtype)
        assert len(y) == len(x), (split, len(y), len(x))
        assert y.min() >= 0 and y.max() < spec.n_classes, split
        missing = numpy.setdiff1d(classes, y)
        assert not len(missing), '%s labels miss classes %s' % (
            split, missing.tolist())
    assert len(spec.classes(data_root)) == spec.n_classes
