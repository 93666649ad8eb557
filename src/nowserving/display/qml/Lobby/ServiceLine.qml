import QtQuick
import QtQuick.Layouts

// One service's line in the lobby: in each shown language its name and the wait a
// newcomer can expect (as large as the name), "may not be served today" when the wait runs
// past closing; how many wait, on the right. A name too long for two lines gives way to
// the service's short name.
Rectangle {
    id: line
    objectName: "serviceRow"
    required property string serviceId
    required property var names
    required property var shortNames
    required property int count
    required property var wait
    required property var late
    required property bool closed
    required property var languages
    required property var strings
    required property real unit
    required property real size  // the type's pixel size
    required property var colors
    implicitHeight: Math.max(texts.implicitHeight, counted.implicitHeight) + unit * 0.6
    radius: unit * 0.4
    color: colors.panel

    ColumnLayout {
        id: texts
        anchors { left: parent.left; right: counted.left; top: parent.top; margins: line.unit * 0.3 }
        anchors.leftMargin: line.unit * 0.6
        anchors.rightMargin: line.unit * 0.6
        spacing: 0
        Repeater {
            model: line.languages
            Flow {  // the name, then the wait beside it when both fit, else under it
                id: flow
                required property var modelData
                required property int index
                readonly property string full: line.names[modelData] || ""
                readonly property string short: line.shortNames[modelData] || ""
                Layout.fillWidth: true
                spacing: 0  // between lines too: the wait's padding keeps it off the name
                TextMetrics { id: measure; font: name.font; text: flow.full }
                Text {
                    id: name
                    objectName: "serviceName"
                    width: Math.min(implicitWidth, flow.width)
                    // Two lines at most: past that, the short name (if the branch gave one).
                    text: flow.short !== "" && measure.advanceWidth > flow.width * 1.8
                          ? flow.short : flow.full
                    color: line.closed ? line.colors.dim : line.colors.text
                    font.pixelSize: line.size
                    font.bold: flow.index === 0
                    wrapMode: Text.Wrap
                    maximumLineCount: 2
                }
                Text {
                    objectName: "serviceWait"
                    leftPadding: line.unit * 0.6
                    text: line.wait[flow.modelData] || ""
                    color: line.closed ? line.colors.accent : line.colors.text
                    font.pixelSize: line.size
                    font.bold: flow.index === 0
                }
                Text {
                    objectName: "serviceLate"
                    leftPadding: line.unit * 0.6
                    visible: line.late
                    text: line.strings[flow.modelData].late
                    color: line.colors.accent
                    font.pixelSize: line.size
                    font.bold: flow.index === 0
                }
            }
        }
    }
    Column {
        id: counted
        anchors { right: parent.right; verticalCenter: parent.verticalCenter; rightMargin: line.unit * 0.6 }
        Text {
            objectName: "serviceCount"
            anchors.horizontalCenter: parent.horizontalCenter
            text: line.count
            color: line.colors.accent
            font.pixelSize: line.size * 1.4
            font.bold: true
        }
        Repeater {
            model: line.languages
            Text {
                required property var modelData
                anchors.horizontalCenter: parent.horizontalCenter
                text: line.strings[modelData].waiting_label
                color: line.colors.dim
                font.pixelSize: Math.max(line.unit * 0.7, line.size * 0.45)
            }
        }
    }
}
