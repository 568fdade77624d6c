"""The evaluation ground-truth lists: 2020's labelled rows and the later editions' labelled original names."""
import pytest

from helpers.data import groundtruth
from helpers.errors import DataLayoutError


def test_rows_of_every_format_give_labels_domains_and_attributes(tmp_path):
    path = tmp_path / groundtruth.FILE_NAME
    path.write_text("fan\n"
                    "id_01_00000000.wav,anomaly_id_01_00000003.wav,1\n"
                    "bandsaw\n"
                    "section_00_0000.wav,section_00_target_test_anomaly_0001_vel_12.wav\n"
                    "section_00_0001.wav,section_00_source_test_normal_0004_noAttribute.wav\n")
    table = groundtruth.read(path)
    assert table[["machine_type", "file_name", "label", "domain", "attributes"]].values.tolist() == [
        ["fan", "id_01_00000000.wav", 1, "source", ""],
        ["bandsaw", "section_00_0000.wav", 1, "target", "vel_12"],
        ["bandsaw", "section_00_0001.wav", 0, "source", "noAttribute"]]


@pytest.mark.parametrize("row", ["section_00_0000.wav,section_00_0007.wav", "a.wav,b.wav", "a.wav,b.wav,2"])
def test_a_row_without_a_label_names_its_line_and_the_formats(tmp_path, row):
    path = tmp_path / groundtruth.FILE_NAME
    path.write_text(f"fan\n{row}\n")
    with pytest.raises(DataLayoutError, match=rf"line 2: '{row}' is not a clip row; expected a machine-type line"):
        groundtruth.read(path)
