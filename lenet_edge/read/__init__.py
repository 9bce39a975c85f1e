"""Reading real images of digit strings: load, segment, normalize like MNIST, classify."""
