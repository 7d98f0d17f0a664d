# JupyterLab for the study, as `make lab` starts it (jupyter lab --config=jupyter_server_config.py):
# the project's root in the file browser with the notebooks in front, and every save of a study notebook
# (autosave included) written as committed, without outputs (cmestudy.run.lab.pre_save).
from pathlib import Path

c = get_config()  # noqa: F821 (provided by Jupyter when it loads this file)
root = Path(__file__).resolve().parent
c.ServerApp.root_dir = str(root)
c.FileContentsManager.pre_save_hook = "cmestudy.run.lab.pre_save"
c.LabApp.default_url = "/lab/tree/notebooks"
