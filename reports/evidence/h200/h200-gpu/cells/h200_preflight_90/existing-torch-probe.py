
import json, sys
out = {"python": "%d.%d" % sys.version_info[:2], "executable": sys.executable,
       "site": [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]}
try:
    import importlib.metadata, torch
    # The distribution's version is what installers and the torch check compare; __version__ can
    # carry a local label the metadata lacks (2.14.1 vs 2.14.1+cu130).
    out.update(version=importlib.metadata.version("torch"), module_version=torch.__version__,
               git_version=torch.version.git_version, cuda=torch.version.cuda)
except Exception as exc:
    out["error"] = "%s: %s" % (type(exc).__name__, exc)
open(sys.argv[1], "w").write(json.dumps(out))
