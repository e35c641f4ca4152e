from erlen import Erlen

app = Erlen("both_dir_from_wsgi_py")
