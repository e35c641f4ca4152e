from erlen import Erlen


def create_app():
    return Erlen("factory_dir_app")
