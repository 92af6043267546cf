"""tricks_lab: reference implementations of the training tricks for CIFAR-style CNNs.

Modules, one family of tricks each: ``data`` (CIFAR-10 and the GPU-resident
loader), ``models``, ``train``, ``experiments``, ``schedules``, ``losses``,
``metrics``, ``mixing``, ``occlusion``, ``autoaugment``, ``optim``,
``plotting``, ``widgets``. Import them as ``from tricks_lab import mixing``.
"""

__version__ = "0.1.0"
