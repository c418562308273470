"""Your own network: ``--network FILE.py:FUNCTION`` or ``module:FUNCTION``.

``FUNCTION(n_classes=..., in_shape=(C, H, W))`` returns a
:class:`~branchynet.networks.model.BranchyNet`. Training registers it as
network ``user-NAME`` (NAME: the function's ``name`` attribute, else its
``__name__``; Table I reads ``B-NAME`` and ``NAME``), records where it came
from (:class:`UserNetwork`: path, sha256, function, shapes) in every model
JSON and in ``OUT/network.json``, and keeps a copy of the file as
``OUT/network.py``.

A model folder never runs code by itself. Reading a user model's JSON
registers a *record-only* network (:func:`register_record`): commands that
only read results (``compare``, ``report``) work, and building it (what
``evaluate``, ``sweep``, ``export`` do) is one line asking for the code:
``--network`` naming the same file again (its sha256 must be the
recorded one), or ``--trust-saved-network`` to run the saved copy
(:func:`install_for_model`). Either way nothing runs before everything
recorded agrees: ``network.json``, every model JSON of the folder, the
file's sha256 (computed from the bytes about to run) and, for the copy,
that it is a regular file in the folder, not a symbolic link.

The network is checked as it is built (:func:`build_checked`): one sample
through every exit at inference, logits of the data set's class count,
then one training step on two samples (dropout, batch statistics, the
backward pass), so that what would fail in training fails before it. What
the user's code raises, ``sys.exit`` included, is one line naming it.

The modules: :mod:`.record` (what is recorded: :class:`UserNetwork`),
:mod:`.loading` (running the user's code and checking what it builds),
:mod:`.registering` (the network registry), :mod:`.folder` (the model
folder's copy and record, checked before anything runs).
"""
from branchynet.networks.user.folder import (check_folder, check_same,
                                             folder_record,
                                             install_for_model, keep_copy,
                                             model_records, saved_record)
from branchynet.networks.user.loading import (USER_ERRORS, build_checked,
                                              load_function,
                                              load_user_network)
from branchynet.networks.user.record import (COPY, IDENTITY, MAX_CLASSES,
                                             MAX_RECORD_BYTES, MAX_SIDE,
                                             MAX_SOURCE_BYTES, PREFIX,
                                             RECORD, ROLES, SAVED_FLAG,
                                             UserNetwork, record_from_json)
from branchynet.networks.user.registering import (display_of, register,
                                                  register_display,
                                                  register_record)
from branchynet.utils.digest import sha256_of

__all__ = ['COPY', 'IDENTITY', 'MAX_CLASSES', 'MAX_RECORD_BYTES', 'MAX_SIDE',
           'MAX_SOURCE_BYTES', 'PREFIX', 'RECORD', 'ROLES', 'SAVED_FLAG',
           'USER_ERRORS', 'UserNetwork', 'build_checked', 'check_folder',
           'check_same', 'display_of', 'folder_record', 'install_for_model',
           'keep_copy', 'load_function', 'load_user_network',
           'model_records', 'record_from_json', 'register',
           'register_display', 'register_record', 'saved_record',
           'sha256_of']
