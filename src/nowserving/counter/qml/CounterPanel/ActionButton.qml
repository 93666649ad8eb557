import QtQuick

// A staff action: large enough for a finger, dimmed when it does not apply.
Rectangle {
    id: action
    property string label
    property bool active: true
    property color tint: "#1f6feb"
    property real unit: 14
    signal clicked()
    implicitWidth: unit * 9
    implicitHeight: unit * 3.6
    radius: unit * 0.5
    color: !active ? "#2b3440" : area.pressed ? Qt.lighter(tint, 1.3) : tint
    Text {
        anchors.centerIn: parent
        text: action.label
        color: action.active ? "#ffffff" : "#7d8793"
        font.pixelSize: action.unit * 1.3
        font.bold: true
    }
    MouseArea {
        id: area
        anchors.fill: parent
        enabled: action.active
        onClicked: action.clicked()
    }
}
