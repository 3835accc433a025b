"""`make lab` starts JupyterLab on the notebooks: start it headless, fetch /lab, stop it."""

import json
import urllib.request

from lab_server import running_lab


def test_make_lab_serves_jupyterlab_with_the_notebooks(project_root):
    with running_lab(project_root) as (base_url, token):
        with urllib.request.urlopen(f"{base_url}/lab?token={token}", timeout=10) as response:
            assert response.status == 200
            page = response.read().decode()
        assert "JupyterLab" in page
        # The server's root is notebooks/, so the walkthroughs are what the user sees first.
        with urllib.request.urlopen(f"{base_url}/api/contents?token={token}", timeout=10) as response:
            listing = json.load(response)
        names = {item["name"] for item in listing["content"]}
        assert "00_overview.ipynb" in names
