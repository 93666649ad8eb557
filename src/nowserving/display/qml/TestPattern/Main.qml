import QtQuick

// The lobby screen's test pattern (nowserving self-test): colour bars and a grey ramp for
// the picture, a red frame on the outermost pixels for overscan, and the self-test's words
// in every language of the branch, to see that each script is drawn.
Rectangle {
    id: root
    required property var texts   // one {title, look, frame, device} per language
    required property string footer
    readonly property var bars: ["#ffffff", "#ffff00", "#00ffff", "#00ff00",
                                 "#ff00ff", "#ff0000", "#0000ff", "#000000"]
    readonly property real unit: Math.max(8, Math.min(width, height) / 36)
    color: "#000000"

    Row {
        id: colourBars
        objectName: "bars"
        anchors { top: parent.top; left: parent.left; right: parent.right }
        height: root.height * 0.42
        Repeater {
            model: root.bars.length
            Rectangle {
                required property int index
                width: colourBars.width / root.bars.length
                height: colourBars.height
                color: root.bars[index]
            }
        }
    }
    Row {
        id: ramp
        anchors { top: colourBars.bottom; left: parent.left; right: parent.right }
        height: root.height * 0.08
        Repeater {
            model: 11
            Rectangle {
                required property int index
                width: ramp.width / 11
                height: ramp.height
                color: Qt.rgba(index / 10, index / 10, index / 10, 1)
            }
        }
    }
    Column {
        anchors {
            top: ramp.bottom; left: parent.left; right: parent.right
            margins: root.unit * 1.2
        }
        spacing: root.unit * 0.8
        Repeater {
            model: root.texts
            Column {
                required property var modelData
                width: parent.width
                spacing: root.unit * 0.2
                Text {
                    width: parent.width
                    text: modelData.title + "  ·  " + modelData.device
                    color: "#ffffff"
                    font.pixelSize: root.unit * 1.8
                    font.bold: true
                    elide: Text.ElideRight
                }
                Text {
                    width: parent.width
                    text: modelData.look + " " + modelData.frame
                    color: "#ffd54f"
                    font.pixelSize: root.unit * 1.1
                    wrapMode: Text.WordWrap
                }
            }
        }
    }
    Text {
        anchors { bottom: parent.bottom; right: parent.right; margins: root.unit * 0.8 }
        text: root.footer + "  ·  " + root.width + "×" + root.height
        color: "#9e9e9e"
        font.pixelSize: root.unit * 0.7
    }
    // Last, so it is on top: the outermost pixels of every edge.
    Rectangle {
        anchors.fill: parent
        color: "transparent"
        border.color: "#ff0000"
        border.width: Math.max(4, Math.round(root.height / 180))
    }
}
