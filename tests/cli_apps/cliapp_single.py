"""One app under an unusual name: found as the single Erlen instance."""

from erlen import Erlen

my_service = Erlen("cliapp_single_service")
