"""Maps the top-level folders framework/, catalog/ and implementations/ to subpackages of reprogrammability."""

from setuptools import find_packages, setup

package_dir = {"reprogrammability": "reprogrammability"}
packages = ["reprogrammability"] + [f"reprogrammability.{p}" for p in find_packages("reprogrammability")]
for folder in ("framework", "catalog", "implementations"):
    package_dir[f"reprogrammability.{folder}"] = folder
    packages.append(f"reprogrammability.{folder}")
    for sub in find_packages(folder):
        packages.append(f"reprogrammability.{folder}.{sub}")
        package_dir[f"reprogrammability.{folder}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

setup(packages=packages, package_dir=package_dir)
