from erlen import Erlen

application = Erlen("wsgi_dir_app")
