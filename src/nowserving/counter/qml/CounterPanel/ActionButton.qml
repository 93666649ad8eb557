import QtQuick

// A staff action: large enough for a finger, dimmed when it does not apply, and then
// saying why (`note`, e.g. "Recalls: 1 of 2") under its label. Long words shrink to fit.
Rectangle {
    id: action
    property string label
    property string note
    property bool active: true
    property color tint: "#1f6feb"
    property real unit: 14
    readonly property bool noted: !active && note !== ""
    signal clicked()
    implicitWidth: unit * 9
    implicitHeight: unit * 3.6
    radius: unit * 0.5
    color: !active ? "#2b3440" : area.pressed ? Qt.lighter(tint, 1.3) : tint
    Column {
        anchors.centerIn: parent
        width: parent.width - action.unit * 0.8
        Text {
            width: parent.width
            height: Math.min(action.unit * 1.8, action.height * (action.noted ? 0.5 : 0.9))
            text: action.label
            color: action.active ? "#ffffff" : "#aab4bf"
            font.pixelSize: action.unit * 1.3
            font.bold: true
            fontSizeMode: Text.Fit
            minimumPixelSize: Math.max(8, action.unit * 0.6)
            horizontalAlignment: Text.AlignHCenter
            verticalAlignment: Text.AlignVCenter
        }
        Text {
            visible: action.noted
            width: parent.width
            height: action.height * 0.42
            text: action.note
            color: "#e6edf3"
            font.pixelSize: action.unit * 0.9
            fontSizeMode: Text.Fit
            minimumPixelSize: Math.max(7, action.unit * 0.5)
            wrapMode: Text.Wrap
            horizontalAlignment: Text.AlignHCenter
            verticalAlignment: Text.AlignVCenter
        }
    }
    MouseArea {
        id: area
        anchors.fill: parent
        enabled: action.active
        onClicked: action.clicked()
    }
}
